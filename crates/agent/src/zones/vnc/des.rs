//! The VNC Authentication response (RFC 6143 §7.2.2): the server's 16-byte challenge,
//! encrypted with single DES (FIPS 46-3) in ECB mode, the password as the key.
//!
//! Two quirks every VNC server and viewer share: the key is the password's first 8 bytes,
//! zero-padded, and each key byte's bits are mirrored (the original VNC code fed the key to a
//! DES that numbered bits from the least significant end; the RFC's errata says so).
//!
//! Why not a crate: this is the only DES the agent needs (two blocks, encryption only, once
//! per screenshot), and RustCrypto's `des` would bring `cipher`, `inout` and their traits for
//! it. The implementation below favours clarity over speed: blocks are arrays of bits, and
//! every table is the standard's, positions numbered from 1 at the most significant bit.
//! It is checked against published known answers and against `openssl enc -des-ecb`.

type Bits<const N: usize> = [bool; N];

/// Initial permutation.
const IP: [u8; 64] = [
    58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4, //
    62, 54, 46, 38, 30, 22, 14, 6, 64, 56, 48, 40, 32, 24, 16, 8, //
    57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3, //
    61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
];
/// Final permutation (the inverse of IP).
const IP_INV: [u8; 64] = [
    40, 8, 48, 16, 56, 24, 64, 32, 39, 7, 47, 15, 55, 23, 63, 31, //
    38, 6, 46, 14, 54, 22, 62, 30, 37, 5, 45, 13, 53, 21, 61, 29, //
    36, 4, 44, 12, 52, 20, 60, 28, 35, 3, 43, 11, 51, 19, 59, 27, //
    34, 2, 42, 10, 50, 18, 58, 26, 33, 1, 41, 9, 49, 17, 57, 25,
];
/// Expansion of the right half to 48 bits.
const EXPAND: [u8; 48] = [
    32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9, 8, 9, 10, 11, 12, 13, 12, 13, 14, 15, 16, 17, //
    16, 17, 18, 19, 20, 21, 20, 21, 22, 23, 24, 25, 24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1,
];
/// The permutation after the S-boxes.
const PERM: [u8; 32] = [
    16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10, //
    2, 8, 24, 14, 32, 27, 3, 9, 19, 13, 30, 6, 22, 11, 4, 25,
];
/// Permuted choice 1: the key's 56 bits (parity bits dropped), as C then D.
const PC1: [u8; 56] = [
    57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18, 10, 2, 59, 51, 43, 35, 27, 19, 11,
    3, //
    60, 52, 44, 36, 63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22, 14, 6, 61, 53, 45,
    37, //
    29, 21, 13, 5, 28, 20, 12, 4,
];
/// Permuted choice 2: a round's 48-bit subkey from C and D.
const PC2: [u8; 48] = [
    14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2, //
    41, 52, 31, 37, 47, 55, 30, 40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
];
/// Left rotations of C and D before each round.
const ROTATIONS: [usize; 16] = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];
/// The eight S-boxes, each 4 rows of 16.
const SBOX: [[[u8; 16]; 4]; 8] = [
    [
        [14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7],
        [0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8],
        [4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0],
        [15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13],
    ],
    [
        [15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10],
        [3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5],
        [0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15],
        [13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9],
    ],
    [
        [10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8],
        [13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1],
        [13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7],
        [1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12],
    ],
    [
        [7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15],
        [13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9],
        [10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4],
        [3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14],
    ],
    [
        [2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9],
        [14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6],
        [4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14],
        [11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3],
    ],
    [
        [12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11],
        [10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8],
        [9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6],
        [4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13],
    ],
    [
        [4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1],
        [13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6],
        [1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2],
        [6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12],
    ],
    [
        [13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7],
        [1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2],
        [7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8],
        [2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11],
    ],
];

fn bits_of(bytes: [u8; 8]) -> Bits<64> {
    std::array::from_fn(|i| bytes[i / 8] & (0x80 >> (i % 8)) != 0)
}

fn bytes_of(bits: &Bits<64>) -> [u8; 8] {
    std::array::from_fn(|i| {
        (0..8).fold(
            0u8,
            |b, j| if bits[i * 8 + j] { b | (0x80 >> j) } else { b },
        )
    })
}

/// `out[i] = input[table[i] - 1]`: the standard's permutations and selections.
fn select<const M: usize>(input: &[bool], table: &[u8; M]) -> Bits<M> {
    std::array::from_fn(|i| input[table[i] as usize - 1])
}

/// The 16 round subkeys of `key`.
fn subkeys(key: [u8; 8]) -> [Bits<48>; 16] {
    let cd = select::<56>(&bits_of(key), &PC1);
    let (mut c, mut d) = (cd[..28].to_vec(), cd[28..].to_vec());
    std::array::from_fn(|round| {
        c.rotate_left(ROTATIONS[round]);
        d.rotate_left(ROTATIONS[round]);
        let joined: Vec<bool> = c.iter().chain(d.iter()).copied().collect();
        select::<48>(&joined, &PC2)
    })
}

/// The round function f(R, K).
fn feistel(right: &[bool], subkey: &Bits<48>) -> Bits<32> {
    let expanded: Bits<48> = select::<48>(right, &EXPAND);
    let mut out = [false; 32];
    for (b, sbox) in SBOX.iter().enumerate() {
        let six: Vec<bool> = (0..6)
            .map(|j| expanded[6 * b + j] ^ subkey[6 * b + j])
            .collect();
        let row = (six[0] as usize) << 1 | six[5] as usize;
        let col = six[1..5]
            .iter()
            .fold(0usize, |v, &bit| v << 1 | bit as usize);
        let value = sbox[row][col];
        for j in 0..4 {
            out[4 * b + j] = value & (8 >> j) != 0;
        }
    }
    select::<32>(&out, &PERM)
}

/// Encrypts one 8-byte block with single DES.
pub fn encrypt_block(key: [u8; 8], block: [u8; 8]) -> [u8; 8] {
    let permuted: Bits<64> = select::<64>(&bits_of(block), &IP);
    let (mut left, mut right) = (permuted[..32].to_vec(), permuted[32..].to_vec());
    for k in subkeys(key).iter() {
        let f = feistel(&right, k);
        let next: Vec<bool> = left.iter().zip(f.iter()).map(|(a, b)| a ^ b).collect();
        left = std::mem::replace(&mut right, next);
    }
    // The halves are swapped once more after the last round (R16 L16).
    let preoutput: Vec<bool> = right.iter().chain(left.iter()).copied().collect();
    bytes_of(&select::<64>(&preoutput, &IP_INV))
}

/// The VNC key for `password`: its first 8 bytes, zero-padded, each byte's bits mirrored.
fn vnc_key(password: &[u8]) -> [u8; 8] {
    std::array::from_fn(|i| password.get(i).map_or(0, |b| b.reverse_bits()))
}

/// What a VNC client answers to the server's `challenge` when the password is `password`.
pub fn vnc_response(password: &[u8], challenge: &[u8; 16]) -> [u8; 16] {
    let key = vnc_key(password);
    let mut out = [0u8; 16];
    for (half, chunk) in challenge.chunks_exact(8).enumerate() {
        let block: [u8; 8] = chunk.try_into().expect("8 bytes");
        out[8 * half..8 * half + 8].copy_from_slice(&encrypt_block(key, block));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex8(s: &str) -> [u8; 8] {
        u64::from_str_radix(s, 16).unwrap().to_be_bytes()
    }

    /// Published known answers: the widely used worked example (key 133457799BBCDFF1),
    /// FIPS 81's ECB example ("Now is t"), and a key that encrypts 8787878787878787 to zero.
    #[test]
    fn des_gives_the_published_known_answers() {
        for (key, plain, cipher) in [
            ("133457799BBCDFF1", "0123456789ABCDEF", "85E813540F0AB405"),
            ("0123456789ABCDEF", "4E6F772069732074", "3FA40E8A984D4815"),
            ("0E329232EA6D0D73", "8787878787878787", "0000000000000000"),
        ] {
            assert_eq!(
                encrypt_block(hex8(key), hex8(plain)),
                hex8(cipher),
                "key {key}"
            );
        }
    }

    /// Computed with `openssl enc -des-ecb -nopad -K <mirrored key>` over the challenge: the
    /// mirrored bits, the zero padding and the cut at 8 bytes.
    #[test]
    fn the_vnc_response_mirrors_pads_and_cuts_the_password() {
        assert_eq!(vnc_key(b"zonepass"), hex8("5ef676a60e86cece"));
        let challenge: [u8; 16] = std::array::from_fn(|i| 0xf0 + i as u8);
        assert_eq!(
            u128::from_be_bytes(vnc_response(b"zonepass", &challenge)),
            0x234fa88b14ce83ad49bc7fe51388477f
        );
        let challenge = 0x00112233445566778899aabbccddeeffu128.to_be_bytes();
        assert_eq!(
            u128::from_be_bytes(vnc_response(b"hunter2longer", &challenge)),
            0xf99289b4248353ce4efa685b20e69c88
        );
        assert_eq!(vnc_key(b"ab"), [0x86, 0x46, 0, 0, 0, 0, 0, 0]);
    }
}
