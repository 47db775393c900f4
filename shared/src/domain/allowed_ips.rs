//! The network allowlist: the source addresses a credential may be used from. Like models
//! and scopes, it only narrows down a key's lineage: a request must come from an address
//! every key of its chain allows, so a credential's effective list is the intersection of
//! its key's list and every list above it (a key with no list of its own is held to its
//! creators' lists).

use std::net::IpAddr;

use ipnet::IpNet;

use super::Invalid;

/// The code every surface answers a request from an address not allowed with (403).
pub const IP_NOT_ALLOWED: &str = "IP_NOT_ALLOWED";
/// What it says besides the code (never the allowlist itself).
pub const IP_NOT_ALLOWED_MESSAGE: &str =
    "this credential may not be used from the address the request came from";

/// At most this many networks on one list.
pub const MAX_ALLOWED_IPS: usize = 20;

/// The addresses a credential may be used from: any (no list), or only those in one of
/// the listed networks (sorted, each once; a list may end up empty by intersection, which
/// allows no address).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedIps(Option<Vec<IpNet>>);

impl AllowedIps {
    /// Any address.
    pub const fn any() -> Self {
        Self(None)
    }

    /// Only these networks, as stored (unparsable entries are dropped, which only narrows).
    pub fn stored<I, S>(networks: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::only(
            networks
                .into_iter()
                .filter_map(|n| n.as_ref().parse::<IpNet>().ok()),
        )
    }

    fn only(networks: impl IntoIterator<Item = IpNet>) -> Self {
        let mut networks: Vec<IpNet> = networks.into_iter().map(|n| n.trunc()).collect();
        networks.sort();
        networks.dedup();
        Self(Some(networks))
    }

    /// Validates client input: 1 to 20 CIDRs (`203.0.113.0/24`, `2001:db8::/32`) or bare
    /// addresses (a /32 or /128), naming the entry at fault.
    pub fn parse(field: &str, raw: &[String]) -> Result<Self, Invalid> {
        if raw.is_empty() || raw.len() > MAX_ALLOWED_IPS {
            return Err(Invalid::new(
                field,
                format!("must list 1 to {MAX_ALLOWED_IPS} networks (null allows any address)"),
            ));
        }
        let mut networks = Vec::with_capacity(raw.len());
        for (index, entry) in raw.iter().enumerate() {
            networks.push(parse_network(&format!("{field}[{index}]"), entry)?);
        }
        Ok(Self::only(networks))
    }

    /// The networks as text (`203.0.113.0/24`), or None for any address.
    pub fn names(&self) -> Option<Vec<String>> {
        self.0
            .as_ref()
            .map(|networks| networks.iter().map(ToString::to_string).collect())
    }

    pub fn is_any(&self) -> bool {
        self.0.is_none()
    }

    /// Whether a request from `address` may use the credential. An IPv4 address reached
    /// through IPv6 (`::ffff:203.0.113.7`) is judged as the IPv4 address it is.
    pub fn allows(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0
            .as_ref()
            .is_none_or(|networks| networks.iter().any(|n| n.contains(&address)))
    }

    /// Whether a request from `address` (text, as a gateway or the client reports it) may
    /// use the credential; an address that does not parse is allowed only by no list.
    pub fn allows_text(&self, address: Option<&str>) -> bool {
        match address.and_then(|a| a.trim().parse::<IpAddr>().ok()) {
            Some(address) => self.allows(address),
            None => self.is_any(),
        }
    }

    /// The addresses both allow. Two networks are either disjoint or one holds the other,
    /// so this is exact: the smaller of each overlapping pair.
    pub fn intersection(&self, other: &AllowedIps) -> AllowedIps {
        match (&self.0, &other.0) {
            (None, _) => other.clone(),
            (_, None) => self.clone(),
            (Some(mine), Some(theirs)) => Self::only(mine.iter().flat_map(|a| {
                theirs.iter().filter_map(move |b| {
                    if b.contains(a) {
                        Some(*a)
                    } else if a.contains(b) {
                        Some(*b)
                    } else {
                        None
                    }
                })
            })),
        }
    }

    /// The first network of this list holding an address `other` does not allow (None:
    /// this list is within `other`). Any address is outside any list.
    pub fn first_outside(&self, other: &AllowedIps) -> Option<String> {
        other.0.as_ref()?;
        let Some(mine) = &self.0 else {
            return Some("any address".to_owned());
        };
        mine.iter()
            .find(|network| {
                // Covered when the parts of it `other` allows add up to all of it.
                let covered = AllowedIps::only([**network]).intersection(other);
                IpNet::aggregate(&covered.0.unwrap_or_default()) != [**network]
            })
            .map(ToString::to_string)
    }

    /// Every address this list allows is allowed by `other` too.
    pub fn within(&self, other: &AllowedIps) -> bool {
        self.first_outside(other).is_none()
    }

    /// The list a new credential asks for, checked against what its creator may be used
    /// from: none named is none (the creator's list still holds it, by the chain); a
    /// network outside the creator's is refused, naming `field`.
    pub fn derived(
        field: &str,
        wanted: Option<&[String]>,
        creator: &AllowedIps,
    ) -> Result<AllowedIps, Invalid> {
        let Some(raw) = wanted else {
            return Ok(AllowedIps::any());
        };
        let wanted = Self::parse(field, raw)?;
        match wanted.first_outside(creator) {
            None => Ok(wanted),
            Some(outside) => Err(Invalid::new(
                field,
                format!(
                    "'{outside}' is not within the addresses the creating credential may be used from"
                ),
            )),
        }
    }
}

/// One entry: a CIDR, or a bare address standing for itself alone.
fn parse_network(field: &str, raw: &str) -> Result<IpNet, Invalid> {
    let entry = raw.trim();
    entry
        .parse::<IpNet>()
        .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            Invalid::new(
                field,
                format!(
                    "'{}' is not an IPv4 or IPv6 network (e.g. 203.0.113.0/24, 2001:db8::/32)",
                    raw.chars().take(64).collect::<String>()
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> AllowedIps {
        AllowedIps::parse(
            "allowed_ips",
            &entries.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn parses_ipv4_and_ipv6_networks_and_bare_addresses() {
        let parsed = list(&["203.0.113.0/24", "2001:db8::/32", "198.51.100.7", "::1"]);
        assert_eq!(
            parsed.names().unwrap(),
            [
                "198.51.100.7/32",
                "203.0.113.0/24",
                "::1/128",
                "2001:db8::/32"
            ]
        );
        assert!(parsed.allows(ip("203.0.113.200")));
        assert!(parsed.allows(ip("2001:db8:ffff::1")));
        assert!(parsed.allows(ip("::ffff:203.0.113.9")), "IPv4 through IPv6");
        assert!(!parsed.allows(ip("203.0.114.1")));
        assert!(!parsed.allows(ip("2001:db9::1")));
        // Host bits are dropped: 10.1.2.3/8 is 10.0.0.0/8.
        assert_eq!(list(&["10.1.2.3/8"]).names().unwrap(), ["10.0.0.0/8"]);
    }

    #[test]
    fn bad_entries_are_named_by_index_and_the_list_is_bounded() {
        for bad in [
            "10.0.0.0/33",
            "300.1.1.1",
            "2001:db8::/129",
            "localhost",
            "",
        ] {
            let error =
                AllowedIps::parse("allowed_ips", &["10.0.0.0/8".into(), bad.into()]).unwrap_err();
            assert_eq!(error.field, "allowed_ips[1]", "{bad}");
        }
        assert_eq!(
            AllowedIps::parse("allowed_ips", &[]).unwrap_err().field,
            "allowed_ips"
        );
        let twenty: Vec<String> = (0..MAX_ALLOWED_IPS)
            .map(|i| format!("10.{i}.0.0/16"))
            .collect();
        assert!(AllowedIps::parse("allowed_ips", &twenty).is_ok());
        let more: Vec<String> = (0..=MAX_ALLOWED_IPS)
            .map(|i| format!("10.{i}.0.0/16"))
            .collect();
        assert_eq!(
            AllowedIps::parse("allowed_ips", &more).unwrap_err().field,
            "allowed_ips"
        );
    }

    #[test]
    fn any_allows_every_address_and_an_unknown_address_only_there() {
        assert!(AllowedIps::any().allows(ip("192.0.2.1")));
        assert!(AllowedIps::any().allows_text(None));
        assert!(!list(&["10.0.0.0/8"]).allows_text(Some("unknown")));
        assert!(list(&["10.0.0.0/8"]).allows_text(Some("10.9.8.7")));
    }

    #[test]
    fn intersection_keeps_the_smaller_of_each_overlap() {
        let wide = list(&["10.0.0.0/8", "2001:db8::/32"]);
        let narrow = list(&["10.1.0.0/16", "192.0.2.0/24"]);
        assert_eq!(wide.intersection(&narrow), list(&["10.1.0.0/16"]));
        assert_eq!(narrow.intersection(&wide), list(&["10.1.0.0/16"]));
        assert_eq!(wide.intersection(&AllowedIps::any()), wide);
        assert_eq!(AllowedIps::any().intersection(&narrow), narrow);
        let none = list(&["10.0.0.0/8"]).intersection(&list(&["192.0.2.0/24"]));
        assert_eq!(none.names(), Some(Vec::new()));
        assert!(!none.allows(ip("10.0.0.1")) && !none.allows(ip("192.0.2.1")));
    }

    #[test]
    fn within_holds_for_networks_covered_by_the_others_together() {
        let halves = list(&["10.0.0.0/25", "10.0.0.128/25"]);
        assert!(
            list(&["10.0.0.0/24"]).within(&halves),
            "two halves cover it"
        );
        assert!(list(&["10.0.0.0/26"]).within(&halves));
        assert!(!list(&["10.0.0.0/23"]).within(&halves));
        assert!(halves.within(&AllowedIps::any()));
        assert!(!AllowedIps::any().within(&halves));
        let nothing = list(&["10.0.0.0/8"]).intersection(&list(&["192.0.2.0/24"]));
        assert!(!list(&["10.0.0.1"]).within(&nothing));
    }

    #[test]
    fn a_derived_list_stays_within_its_creators() {
        let creator = list(&["10.0.0.0/8"]);
        assert_eq!(
            AllowedIps::derived("allowed_ips", None, &creator).unwrap(),
            AllowedIps::any(),
            "none named: the creator's list holds it by the chain"
        );
        let inside = ["10.2.0.0/16".to_string()];
        assert!(AllowedIps::derived("allowed_ips", Some(&inside), &creator).is_ok());
        let outside = ["10.2.0.0/16".to_string(), "192.0.2.0/24".to_string()];
        let error = AllowedIps::derived("allowed_ips", Some(&outside), &creator).unwrap_err();
        assert_eq!(error.field, "allowed_ips");
        assert!(error.message.contains("192.0.2.0/24"), "{}", error.message);
    }
}
