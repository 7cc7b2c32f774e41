//! The bhyve framebuffer's VNC server (reference §1.2, attr `vnc`): an RFB 3.8 server on the
//! zone's UNIX socket while it runs, gone at halt.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::util::Host;

// The client's DES, checked by its own known-answer tests in the emulator.
#[path = "../../src/vnc/des.rs"]
#[allow(dead_code)]
mod des;

const SOCKET: &str = "/rpool/zones/vm1/root/tmp/vm.vnc";

fn running_zone(h: &Host, vnc: &str) {
    h.bhyve_zone(
        "vm1",
        &format!("; add attr; set name=vnc; set type=string; set value=\"{vnc}\"; end"),
    );
    h.run("zoneadm", &["-z", "vm1", "install"]).ok();
    h.run("zoneadm", &["-z", "vm1", "boot"]).ok();
}

fn connect(h: &Host) -> UnixStream {
    let s = UnixStream::connect(h.root(SOCKET)).expect("the zone's VNC socket accepts");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

fn read_n(s: &mut UnixStream, n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    s.read_exact(&mut b).unwrap();
    b
}

fn u32_of(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Version and security (None); returns the security types offered.
fn hello(s: &mut UnixStream) -> Vec<u8> {
    assert_eq!(read_n(s, 12), b"RFB 003.008\n");
    s.write_all(b"RFB 003.008\n").unwrap();
    let n = read_n(s, 1)[0] as usize;
    read_n(s, n)
}

/// ClientInit; returns (width, height, name).
fn init(s: &mut UnixStream) -> (u16, u16, String) {
    s.write_all(&[1]).unwrap();
    let b = read_n(s, 24);
    let name = read_n(s, u32_of(&b[20..24]) as usize);
    (
        u16::from_be_bytes([b[0], b[1]]),
        u16::from_be_bytes([b[2], b[3]]),
        String::from_utf8(name).unwrap(),
    )
}

/// One FramebufferUpdate of one Raw rectangle at 32 bpp: (x, y, w, h, pixels).
fn update(s: &mut UnixStream, incremental: bool) -> (u16, u16, u16, u16, Vec<u8>) {
    let mut req = vec![3, incremental as u8, 0, 0, 0, 0];
    req.extend_from_slice(&640u16.to_be_bytes());
    req.extend_from_slice(&480u16.to_be_bytes());
    s.write_all(&req).unwrap();
    let head = read_n(s, 4);
    assert_eq!(head[0], 0, "FramebufferUpdate");
    assert_eq!(u16::from_be_bytes([head[2], head[3]]), 1, "one rectangle");
    let r = read_n(s, 12);
    let v = |i: usize| u16::from_be_bytes([r[i], r[i + 1]]);
    assert_eq!(u32_of(&r[8..12]), 0, "Raw encoding");
    let px = read_n(s, v(4) as usize * v(6) as usize * 4);
    (v(0), v(2), v(4), v(6), px)
}

fn key(s: &mut UnixStream, keysym: u32) {
    let mut m = vec![4, 1, 0, 0];
    m.extend_from_slice(&keysym.to_be_bytes());
    s.write_all(&m).unwrap();
}

#[test]
fn a_running_zone_with_vnc_on_serves_rfb_on_its_socket() {
    let h = Host::new();
    running_zone(&h, "on");
    let mut s = connect(&h);
    assert_eq!(hello(&mut s), [1], "security None only");
    s.write_all(&[1]).unwrap();
    assert_eq!(u32_of(&read_n(&mut s, 4)), 0, "SecurityResult OK");
    assert_eq!(init(&mut s), (640, 480, "vm1".to_string()));
    let (x, y, w, hgt, first) = update(&mut s, false);
    assert_eq!((x, y, w, hgt), (0, 0, 640, 480));
    let at = |px: &[u8], x: usize, y: usize| px[(y * 640 + x) * 4..(y * 640 + x) * 4 + 3].to_vec();
    // The server's native format is BGRX: the title bar's blue, the name's first stroke white.
    assert_eq!(at(&first, 0, 0), [0xa0, 0x60, 0x30]);
    assert_eq!(at(&first, 16, 10), [0xff, 0xff, 0xff]);
    // Typed keys change the keys line; an incremental request sends only changed rows.
    key(&mut s, 'x' as u32);
    let (_, y, _, rows, _) = update(&mut s, true);
    assert!(y >= 48, "the title bar did not change: rows {y}+{rows}");
    let (.., later) = update(&mut s, false);
    let keys_line = 220 * 640 * 4..262 * 640 * 4;
    assert_ne!(
        first[keys_line.clone()],
        later[keys_line],
        "the typed key shows"
    );
}

#[test]
fn halt_removes_the_socket_and_ends_the_sessions() {
    let h = Host::new();
    running_zone(&h, "wait");
    let mut s = connect(&h);
    hello(&mut s);
    h.run("zoneadm", &["-z", "vm1", "halt"]).ok();
    assert!(!h.root(SOCKET).exists(), "the socket is gone with the zone");
    assert!(UnixStream::connect(h.root(SOCKET)).is_err());
    // The serving process exits: the open session reaches its end.
    s.write_all(&[1]).ok();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    // Booted again, a new server answers.
    h.run("zoneadm", &["-z", "vm1", "boot"]).ok();
    let mut s = connect(&h);
    assert_eq!(hello(&mut s), [1]);
}

#[test]
fn a_password_asks_for_vnc_authentication() {
    let h = Host::new();
    running_zone(&h, "password=secret");
    for (password, result) in [("wrong", 1), ("secret", 0)] {
        let mut s = connect(&h);
        assert_eq!(hello(&mut s), [2], "VNC Authentication only");
        s.write_all(&[2]).unwrap();
        let challenge: [u8; 16] = read_n(&mut s, 16).try_into().unwrap();
        s.write_all(&des::vnc_response(password, &challenge))
            .unwrap();
        assert_eq!(u32_of(&read_n(&mut s, 4)), result, "{password}");
        if result == 0 {
            assert_eq!(init(&mut s).2, "vm1");
        } else {
            let n = u32_of(&read_n(&mut s, 4)) as usize;
            assert_eq!(read_n(&mut s, n), b"authentication failed");
        }
    }
}

#[test]
fn no_socket_when_vnc_is_off() {
    let h = Host::new();
    running_zone(&h, "off");
    assert!(!h.root(SOCKET).exists());
}

/// `tcp=ADDR:PORT` listens on TCP, and the emulator only on loopback: a client there gets the
/// same RFB greeting; the listener is gone once the zone halts.
#[test]
fn tcp_on_loopback_serves_rfb_until_the_zone_halts() {
    let h = Host::new();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    running_zone(&h, &format!("tcp=127.0.0.1:{port}"));
    assert!(!h.root(SOCKET).exists(), "no socket for tcp=");
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("the listener");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut greeting = [0u8; 12];
    s.read_exact(&mut greeting).unwrap();
    assert_eq!(&greeting, b"RFB 003.008\n");
    drop(s);
    h.run("zoneadm", &["-z", "vm1", "halt"]).ok();
    // The server exits once it sees the boot it served has ended; no time is asserted, only
    // that the port is released eventually.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the listener outlived the zone"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
