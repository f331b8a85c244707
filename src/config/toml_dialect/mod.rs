//! The TOML dialect: the same model, for automation. Values are spelled as in IOS
//! (`encryption = "aes 256"`, `transforms = "esp-aes 256 esp-sha-hmac"`, `mode = "ipsec
//! ipv4"`); every value keeps its span, so errors name the TOML line. `to_toml` writes
//! what `load` reads back, which is how `ikev1d convert` turns an IOS file into TOML.
//! Lines IOS accepts that ikev1d cannot honour travel as their IOS words in
//! `unsupported` lists, and are read back through the IOS dialect's own handlers.
//!
//! ```toml
//! hostname = "R2"                   # optional: `hostname`, `ip domain name`,
//! domain_name = "example.com"       #   `crypto isakmp identity address|hostname`
//! identity = "hostname"
//! nat_keepalive_s = 20              # optional
//! [debug]                           # optional: isakmp / ipsec = true
//! [keepalive]                       # optional DPD: interval_s, retry_s, periodic
//! [admission]                       # optional: in_negotiation_sa, sa
//! [ipsec]                           # optional globals: lifetime_s, lifetime_kb (or "disable"),
//!                                   #   replay_window (or "disable"), idle_time_s, df_bit
//! [[policies]]                      # priority, encryption, hash, group, lifetime_s,
//!                                   #   authentication, unsupported
//! [[keys]]                          # key, address ("::/0", "192.0.2.0/24", "192.0.2.1")
//! [[keyrings]]                      # name, vrf, local_address, description, keys = [{key, address}]
//! [[isakmp_profiles]]               # name, description, keyrings, match = [{address, vrf} |
//!                                   #   {host} | {domain}], keepalive = {interval_s, retry_s},
//!                                   #   self_identity, local_address, vrf, virtual_template,
//!                                   #   unsupported
//! [[transform_sets]]                # name, transforms (or encryption + integrity), mode
//! [[profiles]]                      # name, transform_sets, pfs, lifetime_s, lifetime_kb,
//!                                   #   replay_window, idle_time_s, isakmp_profile,
//!                                   #   responder_only, unsupported
//! [[tunnels]]                       # name, description, ipv4, ipv4_secondary, unnumbered,
//!                                   #   ipv6, ipv6_enable, link_local, ip_mtu, ipv6_mtu,
//!                                   #   adjust_mss, ipv6_adjust_mss, source, destination,
//!                                   #   mode, key, keepalive = [S, R], path_mtu_discovery,
//!                                   #   df_bit, profile, vrf, tunnel_vrf, shutdown
//! [[routes]]                        # prefix, interface, vrf
//! [[vrfs]]                          # name, ip_vrf, rd, address_families
//! [[interface_map]]                 # ios, linux (`ikev1d map-interface`)
//! ```

mod read;
mod write;

pub(crate) use read::parse;
