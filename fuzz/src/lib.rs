//! The bodies of the fuzz targets, one module per parser, each with `run(&[u8])`: the binaries
//! under `fuzz_targets/` hand them libFuzzer's inputs, and the agent's `fuzz_replay` test runs
//! them on stable Rust over the seed corpus (`seeds/`) and bounded random mutations of it.
//!
//! A body panics when a property fails: the parser panicked, or text it produced does not read
//! back as what it meant.

/// The agent's config.yaml: no panic; a bad file is an error naming the problem.
pub mod agent_config {
    pub fn run(data: &[u8]) {
        let Ok(data) = std::str::from_utf8(data) else {
            return;
        };
        let _ = zoneweaver_agent::config::Config::parse(data, "fuzz");
    }
}

/// dhcpd.conf: a file that parses renders byte for byte; every edit the agent makes (subnet
/// upsert and removal, host add and removal) renders a file that parses again to exactly the
/// model the edit produced, with nothing else changed.
pub mod dhcpd_conf {
    use std::net::Ipv4Addr;

    use zoneweaver_agent::network::dhcp::conf::{DhcpConf, HostEntry, SubnetConfig};

    /// What the agent reads back from a file: subnets' settings and host reservations, in order.
    fn model(c: &DhcpConf) -> (Vec<SubnetConfig>, Vec<HostEntry>) {
        (
            c.subnets().map(|s| s.config()).collect(),
            c.hosts().into_iter().cloned().collect(),
        )
    }

    /// The edited file parses, to the edited model.
    fn check(edited: &DhcpConf) -> (Vec<SubnetConfig>, Vec<HostEntry>) {
        let text = edited.render();
        let again = DhcpConf::parse(&text).unwrap_or_else(|e| panic!("{e}: {text:?}"));
        assert_eq!(again.render(), text);
        let m = model(&again);
        assert_eq!(m, model(edited), "{text:?}");
        m
    }

    /// Settings a subnet could be given through the API: range, router, DNS all inside `net`.
    fn variants(cfg: &SubnetConfig) -> Vec<SubnetConfig> {
        let base = u32::from(cfg.net.addr());
        let host = |n: u32| Ipv4Addr::from(base | (n & !u32::from(cfg.net.netmask().addr())));
        vec![
            SubnetConfig {
                range: None,
                router: None,
                dns: Vec::new(),
                ..cfg.clone()
            },
            SubnetConfig {
                range: Some((host(10), host(20))),
                router: Some(host(1)),
                dns: vec![Ipv4Addr::new(192, 0, 2, 53), host(2)],
                ..cfg.clone()
            },
        ]
    }

    pub fn run(data: &[u8]) {
        let Ok(data) = std::str::from_utf8(data) else {
            return;
        };
        let Ok(conf) = DhcpConf::parse(data) else {
            return;
        };
        assert_eq!(conf.render(), data);
        let (subnets, hosts) = model(&conf);

        for cfg in &subnets {
            for v in variants(cfg) {
                let mut edited = conf.clone();
                edited.upsert_subnet(&v);
                let (subs, hs) = check(&edited);
                let i = subs
                    .iter()
                    .position(|s| s.net == v.net)
                    .expect("the subnet is there");
                assert_eq!(subs[i], v);
                assert_eq!(hs, hosts);
            }
            let mut edited = conf.clone();
            assert!(edited.remove_subnet(cfg.net));
            let (subs, _) = check(&edited);
            assert!(subs.iter().all(|s| s.net != cfg.net));
        }
        let new = SubnetConfig {
            net: "198.51.100.0/24".parse().expect("a network"),
            router: Some(Ipv4Addr::new(198, 51, 100, 1)),
            range: Some((
                Ipv4Addr::new(198, 51, 100, 10),
                Ipv4Addr::new(198, 51, 100, 99),
            )),
            dns: vec![Ipv4Addr::new(198, 51, 100, 1)],
        };
        let mut edited = conf.clone();
        edited.upsert_subnet(&new);
        let (subs, hs) = check(&edited);
        assert!(subs.contains(&new));
        assert_eq!(hs, hosts);

        for h in &hosts {
            let mut edited = conf.clone();
            assert!(edited.remove_host(&h.name));
            let (subs, hs) = check(&edited);
            let kept: Vec<HostEntry> = hosts.iter().filter(|x| x.name != h.name).cloned().collect();
            assert_eq!(hs, kept);
            assert_eq!(subs, subnets);
        }
        let mut edited = conf.clone();
        let host = HostEntry {
            name: "fuzz-host".into(),
            mac: Some("02:08:20:00:00:01".parse().expect("a MAC")),
            ip: Some(Ipv4Addr::new(198, 51, 100, 7)),
        };
        edited.add_host(host.clone());
        let (subs, hs) = check(&edited);
        assert_eq!(hs.last(), Some(&host));
        assert_eq!(subs, subnets);
    }
}

/// dhcpd's leases file (read by `GET /network/dhcp/leases`): no panic, and every lease it
/// returns has a valid address.
pub mod dhcpd_leases {
    use zoneweaver_agent::network::dhcp::leases;

    pub fn run(data: &[u8]) {
        let Ok(data) = std::str::from_utf8(data) else {
            return;
        };
        if let Ok(leases) = leases::parse(data) {
            for l in leases {
                assert!(l.ip.parse::<std::net::Ipv4Addr>().is_ok(), "{l:?}");
            }
        }
    }
}

/// dladm parsable output (`show-vnic`, `show-link`, `show-phys`, `show-etherstub`): no panic.
pub mod dladm {
    use illumos::dladm;

    pub fn run(data: &[u8]) {
        let Ok(data) = std::str::from_utf8(data) else {
            return;
        };
        let _ = dladm::parse_show_vnic(data);
        let _ = dladm::parse_show_link(data);
        let _ = dladm::parse_show_phys(data);
        let _ = dladm::parse_show_etherstub(data);
        // The first line as the field list, as a caller passing its own `-o` would.
        if let Some((head, rest)) = data.split_once('\n') {
            let fields: Vec<&str> = head.split(',').collect();
            let _ = dladm::parse_show_vnic_fields(rest, &fields);
            let _ = dladm::parse_show_link_fields(rest, &fields);
        }
    }
}

/// ipadm parsable output (`show-addr`, `show-if`, `show-ifprop`, forwarding): no panic.
pub mod ipadm {
    use illumos::ipadm;

    pub fn run(data: &[u8]) {
        let Ok(data) = std::str::from_utf8(data) else {
            return;
        };
        let _ = ipadm::parse_show_addr(data);
        let _ = ipadm::parse_show_if(data);
        let _ = ipadm::parse_show_ifprop(data);
        let _ = ipadm::parse_forwarding(data);
        let _ = data.parse::<ipadm::ListedAddr>();
    }
}

/// ipnat.conf: `NatConf::parse(x).render() == x` for any text (the module's promise), every
/// recognised rule survives its canonical rendering, and a file the agent edited reads back as
/// what it wrote.
pub mod ipnat_conf {
    use illumos::ipnat::{NatConf, NatRule};

    fn reparse(conf: &NatConf) -> NatConf {
        let text = conf.render();
        let again = NatConf::parse(&text);
        assert_eq!(again.render(), text);
        assert_eq!(again.lines(), conf.lines(), "{text:?}");
        again
    }

    pub fn run(data: &[u8]) {
        let Ok(data) = std::str::from_utf8(data) else {
            return;
        };
        let conf = NatConf::parse(data);
        assert_eq!(conf.render(), data);

        // One rule, as the API takes it.
        if let Ok(rule) = data.parse::<NatRule>() {
            assert_eq!(rule.to_string().parse::<NatRule>().as_ref(), Ok(&rule));
        }

        let rules: Vec<NatRule> = conf.rules().map(|(_, r)| r.clone()).collect();
        for rule in &rules {
            let canonical = rule.to_string();
            assert_eq!(
                canonical.parse::<NatRule>().as_ref(),
                Ok(rule),
                "{canonical:?}"
            );
        }
        // The agent's edits: add a rule the file has in canonical form, remove one.
        for rule in &rules {
            let mut edited = conf.clone();
            assert!(!edited.ensure(rule.clone()));
            let removed = edited.remove(rule);
            assert!(removed >= 1);
            assert!(!reparse(&edited).contains(rule));
            assert!(edited.ensure(rule.clone()));
            assert!(reparse(&edited).contains(rule));
        }
        let mut edited = conf.clone();
        let new: NatRule = "rdr net0 192.0.2.1/32 port 8080-8090 -> 10.0.0.5 port 80 tcp"
            .parse()
            .expect("a valid rule");
        edited.ensure(new.clone());
        let again = reparse(&edited);
        assert!(again.contains(&new));
        assert_eq!(
            again.rules().count(),
            rules.len() + usize::from(!rules.contains(&new))
        );
    }
}

/// `ipnat -l`: no panic.
pub mod ipnat_list {
    pub fn run(data: &[u8]) {
        let Ok(data) = std::str::from_utf8(data) else {
            return;
        };
        let _ = illumos::ipnat::parse_list(data);
    }
}

/// The `ofmt` parsable form of dladm/ipadm: with two or more fields, `:` and `\` inside a value
/// are escaped. Splitting never panics, and values escaped and joined the way ofmt prints them
/// split back to the same values (a MAC address keeps its colons).
pub mod parsable {
    use arbitrary::{Arbitrary, Unstructured};
    use illumos::parsable::split_fields;

    #[derive(Debug, Arbitrary)]
    struct Input {
        count: u8,
        line: String,
        values: Vec<String>,
    }

    fn ofmt_line(values: &[String]) -> String {
        values
            .iter()
            .map(|v| v.replace('\\', "\\\\").replace(':', "\\:"))
            .collect::<Vec<_>>()
            .join(":")
    }

    pub fn run(data: &[u8]) {
        let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
            return;
        };
        let count = usize::from(input.count % 8);
        if let Ok(fields) = split_fields(&input.line, count) {
            assert_eq!(fields.len(), count.max(1));
            if count > 1 {
                assert_eq!(split_fields(&ofmt_line(&fields), count), Ok(fields));
            }
        }
        if input.values.len() > 1 {
            let line = ofmt_line(&input.values);
            assert_eq!(
                split_fields(&line, input.values.len()).as_ref(),
                Ok(&input.values),
                "{line:?}"
            );
        }
    }
}

/// `route -n get default`, `routeadm -p` and `routeadm -p OPTION`: no panic.
pub mod route {
    pub fn run(data: &[u8]) {
        let Ok(data) = std::str::from_utf8(data) else {
            return;
        };
        let _ = illumos::route::parse_get(data);
        let _ = illumos::routeadm::parse_show(data);
        let _ = illumos::routeadm::parse_show_option(data);
    }
}

/// `svcs -H -o state,fmri`, `svcprop -p`, `svccfg listprop`: no panic.
pub mod smf {
    use illumos::smf;

    pub fn run(data: &[u8]) {
        let Ok(data) = std::str::from_utf8(data) else {
            return;
        };
        let _ = smf::parse_svcs(data);
        let _ = smf::parse_svcprop(data);
        let _ = smf::parse_listprop(data);
    }
}

/// `zfs list -H -p -o name,type,volsize,origin,zoneweaver:owner`: no panic; parsed fields hold
/// no separator.
pub mod zfs {
    pub fn run(data: &[u8]) {
        let Ok(data) = std::str::from_utf8(data) else {
            return;
        };
        if let Ok(list) = illumos::zfs::parse_list(data) {
            for d in list {
                for f in [Some(&d.name), d.origin.as_ref(), d.owner.as_ref()]
                    .into_iter()
                    .flatten()
                {
                    assert!(!f.contains(['\t', '\n']), "{d:?}");
                }
            }
        }
    }
}

/// `zoneadm list -cp`: no panic, and a parsed listing printed again the way zoneadm prints it
/// (`:` and `\` escaped) parses to the same zones, so a zonepath with a colon survives.
pub mod zoneadm {
    use illumos::zoneadm::{parse_list, ZoneEntry};

    fn escape(field: &str) -> String {
        field.replace('\\', "\\\\").replace(':', "\\:")
    }

    fn render(z: &ZoneEntry) -> String {
        let id = z.id.map_or_else(|| "-".to_owned(), |i| i.to_string());
        let fields = [
            id.as_str(),
            &z.name,
            z.state.as_str(),
            &z.zonepath,
            z.uuid.as_deref().unwrap_or_default(),
            &z.brand,
            &z.ip_type,
        ];
        fields.map(escape).join(":")
    }

    pub fn run(data: &[u8]) {
        let Ok(data) = std::str::from_utf8(data) else {
            return;
        };
        let Ok(zones) = parse_list(data) else { return };
        // A field ending in a carriage return cannot be printed back on a line of its own.
        if zones.iter().any(|z| render(z).contains('\r')) {
            return;
        }
        let text: String = zones.iter().map(|z| render(z) + "\n").collect();
        assert_eq!(parse_list(&text).as_ref(), Ok(&zones), "{text:?}");
    }
}

/// `zonecfg export`: no panic on any text.
pub mod zonecfg_export {
    pub fn run(data: &[u8]) {
        let Ok(data) = std::str::from_utf8(data) else {
            return;
        };
        let cfg = illumos::zonecfg::parse_export(data);
        let _ = cfg.zvols();
    }
}

/// A zonecfg command file built by the agent from values its newtypes accept reads back, through
/// the `zonecfg export` parser, as the same configuration: no value breaks out of its line or
/// its quotes.
pub mod zonecfg_file {
    use arbitrary::{Arbitrary, Unstructured};
    use illumos::zonecfg::{parse_export, CommandFile, Net};

    #[derive(Debug, Arbitrary)]
    struct Input {
        zonepath: String,
        autoboot: bool,
        attrs: Vec<(String, String)>,
        volumes: Vec<String>,
        isos: Vec<String>,
        nets: Vec<NetInput>,
    }

    #[derive(Debug, Arbitrary)]
    struct NetInput {
        physical: String,
        global_nic: Option<String>,
        mac: Option<String>,
        vlan: Option<String>,
        allowed: Option<String>,
        defrouter: Option<[u8; 4]>,
    }

    fn opt<T: std::str::FromStr>(s: &Option<String>) -> Option<Option<T>> {
        match s {
            None => Some(None),
            Some(s) => s.parse().ok().map(Some),
        }
    }

    pub fn run(data: &[u8]) {
        let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
            return;
        };
        let Ok(zonepath) = input.zonepath.parse() else {
            return;
        };
        let mut file = CommandFile::create_bhyve(&zonepath, input.autoboot);
        let mut attrs = Vec::new();
        for (name, value) in &input.attrs {
            if let (Ok(n), Ok(v)) = (name.parse(), value.parse()) {
                file.add_attr(&n, &v);
                attrs.push((name.clone(), value.clone()));
            }
        }
        let mut volumes = Vec::new();
        for v in &input.volumes {
            if let Ok(d) = v.parse() {
                file.add_device(&d);
                volumes.push(v.clone());
            }
        }
        let mut isos = Vec::new();
        for p in &input.isos {
            if let Ok(h) = p.parse() {
                file.add_iso(&h);
                isos.push(p.clone());
            }
        }
        let mut nets = Vec::new();
        for n in &input.nets {
            let (
                Ok(physical),
                Some(global_nic),
                Some(mac_addr),
                Some(vlan_id),
                Some(allowed_address),
            ) = (
                n.physical.parse(),
                opt(&n.global_nic),
                opt(&n.mac),
                opt(&n.vlan),
                opt(&n.allowed),
            )
            else {
                continue;
            };
            let net = Net {
                physical,
                global_nic,
                mac_addr,
                vlan_id,
                allowed_address,
                defrouter: n.defrouter.map(std::net::Ipv4Addr::from),
            };
            file.add_net(&net);
            nets.push(net);
        }

        let text = file.render();
        let cfg = parse_export(&text);
        assert_eq!(
            cfg.zonepath.as_deref(),
            Some(input.zonepath.as_str()),
            "{text}"
        );
        assert_eq!(cfg.brand.as_deref(), Some("bhyve"));
        assert_eq!(cfg.ip_type.as_deref(), Some("exclusive"));
        assert_eq!(cfg.autoboot, Some(input.autoboot));
        let got: Vec<(String, String)> = cfg
            .attrs
            .iter()
            .map(|a| (a.name.clone(), a.value.clone()))
            .collect();
        assert_eq!(got, attrs, "{text}");
        assert_eq!(cfg.zvols(), volumes, "{text}");
        let dirs: Vec<&str> = cfg.fs.iter().filter_map(|f| f.get("dir")).collect();
        assert_eq!(dirs, isos, "{text}");
        assert_eq!(cfg.nets.len(), nets.len(), "{text}");
        for (got, want) in cfg.nets.iter().zip(&nets) {
            let prop = |name| got.get(name).map(str::to_owned);
            let text_of = |v: Option<&dyn ToString>| v.map(ToString::to_string);
            assert_eq!(prop("physical"), Some(want.physical.to_string()), "{text}");
            assert_eq!(
                prop("global-nic"),
                text_of(want.global_nic.as_ref().map(|v| v as _))
            );
            assert_eq!(
                prop("mac-addr"),
                text_of(want.mac_addr.as_ref().map(|v| v as _))
            );
            assert_eq!(
                prop("vlan-id"),
                text_of(want.vlan_id.as_ref().map(|v| v as _))
            );
            assert_eq!(
                prop("allowed-address"),
                text_of(want.allowed_address.as_ref().map(|v| v as _))
            );
            assert_eq!(
                prop("defrouter"),
                text_of(want.defrouter.as_ref().map(|v| v as _))
            );
        }
    }
}
