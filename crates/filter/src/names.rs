//! Names libpcap looks up in system files (/etc/services, /etc/protocols) and its own
//! tables, kept here as built-in tables so that a filter means the same on every machine.
//! The service and protocol entries are those of Debian's netbase (the /etc/services and
//! /etc/protocols tcpdump reads on Debian and Ubuntu) for the names people filter on.

/// (name and aliases, port, in TCP, in UDP).
const SERVICES: &[(&[&str], u16, bool, bool)] = &[
    (&["ftp-data"], 20, true, false),
    (&["ftp"], 21, true, false),
    (&["ssh"], 22, true, false),
    (&["telnet"], 23, true, false),
    (&["smtp", "mail"], 25, true, false),
    (&["domain"], 53, true, true),
    (&["bootps"], 67, false, true),
    (&["bootpc"], 68, false, true),
    (&["tftp"], 69, false, true),
    (&["http", "www"], 80, true, false),
    (
        &["kerberos", "kerberos5", "krb5", "kerberos-sec"],
        88,
        true,
        true,
    ),
    (&["pop3", "pop-3"], 110, true, false),
    (&["sunrpc", "portmapper"], 111, true, true),
    (&["ntp"], 123, false, true),
    (&["netbios-ns"], 137, false, true),
    (&["netbios-dgm"], 138, false, true),
    (&["netbios-ssn"], 139, true, false),
    (&["imap2", "imap"], 143, true, false),
    (&["snmp"], 161, true, true),
    (&["snmp-trap", "snmptrap"], 162, true, true),
    (&["ldap"], 389, true, true),
    (&["https"], 443, true, true),
    (&["microsoft-ds"], 445, true, false),
    (&["isakmp"], 500, false, true),
    (&["syslog"], 514, false, true),
    (&["submission"], 587, true, false),
    (&["ldaps"], 636, true, true),
    (&["domain-s"], 853, true, true),
    (&["rsync"], 873, true, false),
    (&["imaps"], 993, true, false),
    (&["pop3s"], 995, true, false),
    (&["socks"], 1080, true, false),
    (&["openvpn"], 1194, true, true),
    (&["radius"], 1812, true, true),
    (&["radius-acct", "radacct"], 1813, true, true),
    (&["nfs"], 2049, true, true),
    (&["mysql"], 3306, true, false),
    (&["ipsec-nat-t"], 4500, false, true),
    (&["sip"], 5060, true, true),
    (&["sip-tls"], 5061, true, true),
    (&["xmpp-client", "jabber-client"], 5222, true, false),
    (&["xmpp-server", "jabber-server"], 5269, true, false),
    (&["mdns"], 5353, false, true),
    (&["postgresql", "postgres"], 5432, true, false),
    (&["amqp"], 5672, true, false),
    (&["redis"], 6379, true, false),
    (&["http-alt", "webcache"], 8080, true, false),
    (&["git"], 9418, true, false),
];

/// A service name: its port, and whether /etc/services lists it for TCP and for UDP (libpcap
/// then filters only the transports listed: `port http` is TCP port 80 only).
pub(crate) fn service(name: &str) -> Option<(u16, bool, bool)> {
    SERVICES
        .iter()
        .find(|(names, ..)| names.contains(&name))
        .map(|&(_, port, tcp, udp)| (port, tcp, udp))
}

/// /etc/protocols: names and their upper-case aliases (getprotobyname matches either,
/// case-sensitively).
const PROTOCOLS: &[(&str, &str, u32)] = &[
    ("ip", "IP", 0),
    ("hopopt", "HOPOPT", 0),
    ("icmp", "ICMP", 1),
    ("igmp", "IGMP", 2),
    ("ipencap", "IP-ENCAP", 4),
    ("tcp", "TCP", 6),
    ("egp", "EGP", 8),
    ("igp", "IGP", 9),
    ("udp", "UDP", 17),
    ("dccp", "DCCP", 33),
    ("ipv6", "IPv6", 41),
    ("ipv6-route", "IPv6-Route", 43),
    ("ipv6-frag", "IPv6-Frag", 44),
    ("rsvp", "RSVP", 46),
    ("gre", "GRE", 47),
    ("esp", "IPSEC-ESP", 50),
    ("ah", "IPSEC-AH", 51),
    ("ipv6-icmp", "IPv6-ICMP", 58),
    ("ipv6-nonxt", "IPv6-NoNxt", 59),
    ("ipv6-opts", "IPv6-Opts", 60),
    ("eigrp", "EIGRP", 88),
    ("ospf", "OSPFIGP", 89),
    ("ipip", "IPIP", 94),
    ("etherip", "ETHERIP", 97),
    ("pim", "PIM", 103),
    ("vrrp", "VRRP", 112),
    ("l2tp", "L2TP", 115),
    ("sctp", "SCTP", 132),
    ("udplite", "UDPLite", 136),
];

/// An IP protocol name (`proto \tcp`, `ip proto \udp`).
pub(crate) fn ip_protocol(name: &str) -> Option<u32> {
    PROTOCOLS
        .iter()
        .find(|(n, alias, _)| *n == name || *alias == name)
        .map(|(_, _, v)| *v)
}

/// libpcap's ethertype names (`ether proto \ip`), the ones this filter can test: those
/// compared directly with the type field. `atalk` and `aarp` are also tested in SNAP
/// headers by libpcap, which this filter does not do.
pub(crate) fn ether_protocol(name: &str) -> Option<u32> {
    Some(match name {
        "arp" => 0x0806,
        "decnet" => 0x6003,
        "ip" => 0x0800,
        "ip6" => 0x86dd,
        "lat" => 0x6004,
        "loopback" => 0x9000,
        "mopdl" => 0x6001,
        "moprc" => 0x6002,
        "rarp" => 0x8035,
        "sca" => 0x6007,
        _ => return None,
    })
}

/// A host name's addresses, from the system resolver (as libpcap resolves names when it
/// compiles a filter).
pub(crate) fn resolve(name: &str) -> Vec<std::net::IpAddr> {
    use std::net::ToSocketAddrs;
    let mut out = Vec::new();
    if let Ok(addrs) = (name, 0u16).to_socket_addrs() {
        for a in addrs {
            if !out.contains(&a.ip()) {
                out.push(a.ip());
            }
        }
    }
    out
}
