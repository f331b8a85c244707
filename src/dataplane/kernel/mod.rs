//! Kernel data path: XFRM states and policies, xfrm/vti6 interfaces over netlink.
