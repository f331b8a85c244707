//! Kernel data path: XFRM states and policies, xfrm/vti6 interfaces over netlink.

use super::*;

pub struct KernelDataplane {}

impl KernelDataplane {
    /// Probe the kernel; fail naming what is missing (ESP, xfrm interfaces and vti6).
    pub fn open() -> Result<Self> {
        Err(DataplaneError(
            "kernel data path not implemented yet".into(),
        ))
    }
}

impl Dataplane for KernelDataplane {
    fn kind(&self) -> DataplaneKind {
        DataplaneKind::Kernel
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
