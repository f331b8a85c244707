//! Userspace data path: ESP over a TUN device, for kernels without XFRM ESP.

use super::*;

pub struct UserspaceDataplane {}

impl UserspaceDataplane {
    /// Open the userspace data path (needs /dev/net/tun).
    pub fn open() -> Result<Self> {
        Err(DataplaneError(
            "userspace data path not implemented yet".into(),
        ))
    }
}

impl Dataplane for UserspaceDataplane {
    fn kind(&self) -> DataplaneKind {
        DataplaneKind::Userspace
    }
    fn ensure_tunnel(&mut self, _tunnel: &TunnelSpec) -> Result<()> {
        todo!()
    }
    fn remove_tunnel(&mut self, _name: &str) -> Result<()> {
        todo!()
    }
    fn alloc_spi(&mut self, _tunnel: &str, _src: IpAddr, _dst: IpAddr) -> Result<u32> {
        todo!()
    }
    fn install_sa(&mut self, _sa: &SaSpec) -> Result<()> {
        todo!()
    }
    fn delete_sa(
        &mut self,
        _tunnel: &str,
        _direction: Direction,
        _spi: u32,
        _dst: IpAddr,
    ) -> Result<()> {
        todo!()
    }
    fn counters(
        &mut self,
        _tunnel: &str,
        _direction: Direction,
        _spi: u32,
        _dst: IpAddr,
    ) -> Result<SaCounters> {
        todo!()
    }
    fn poll_events(&mut self) -> Vec<DataplaneEvent> {
        todo!()
    }
    fn shutdown(&mut self) {
        todo!()
    }
}
