//! Userspace data path: ESP over a TUN device, for kernels without XFRM ESP.
