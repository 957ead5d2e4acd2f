//! Network functions: CIDR arithmetic for IPv4 and IPv6 (`cidrhost`, `cidrnetmask`,
//! `cidrsubnet`, `cidrsubnets`). Addresses are computed in a `u128`, IPv4 in its low
//! 32 bits, with every shift and addition checked.

use std::net::{Ipv4Addr, Ipv6Addr};

use terrane_core::Value;

use super::{Args, Func, FuncContext};

/// This family's rows of the registration table.
pub(super) const FUNCS: &[Func] = &[
    Func::exactly("cidrhost", 2, cidrhost),
    Func::exactly("cidrnetmask", 1, cidrnetmask),
    Func::exactly("cidrsubnet", 3, cidrsubnet),
    Func::at_least("cidrsubnets", 1, cidrsubnets),
];

fn cidrhost(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let net = parse_cidr(&a.str(0)?)?;
    let num = a.int(1)?;
    let last = ones(net.bits - net.len);
    let off = if num >= 0 {
        u128::try_from(num).ok().filter(|n| *n <= last)
    } else {
        let back = num.unsigned_abs() - 1; // -1 is the last address
        (back <= last).then(|| last - back)
    };
    let off =
        off.ok_or_else(|| format!("cidrhost() prefix /{} has no host numbered {num}", net.len))?;
    Ok(Value::String(fmt_addr(net.base | off, net.bits)))
}

fn cidrnetmask(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let s = a.str(0)?;
    let net = parse_cidr(&s)?;
    if net.bits != 32 {
        return Err(format!(
            "cidrnetmask() supports only IPv4 prefixes, got {s:?}"
        ));
    }
    Ok(Value::String(fmt_addr(ones(32) ^ ones(32 - net.len), 32)))
}

fn cidrsubnet(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let net = parse_cidr(&a.str(0)?)?;
    let (newbits, netnum) = (a.int(1)?, a.int(2)?);
    let new_len = net.len as i128 + newbits;
    if newbits < 0 || new_len > net.bits as i128 {
        return Err(format!(
            "cidrsubnet() cannot extend a prefix of {} bits by {newbits}",
            net.len
        ));
    }
    let new_len = u32::try_from(new_len).unwrap_or(0);
    let fits = u128::try_from(netnum)
        .ok()
        .filter(|n| *n <= ones(new_len - net.len));
    let Some(netnum) = fits else {
        return Err(format!(
            "cidrsubnet() prefix extension of {newbits} has no subnet numbered {netnum}"
        ));
    };
    let addr = net.base | netnum.checked_shl(net.bits - new_len).unwrap_or(0);
    Ok(Value::String(format!(
        "{}/{new_len}",
        fmt_addr(addr, net.bits)
    )))
}

/// Consecutive subnets of the sizes asked for, each aligned to its size, in order.
fn cidrsubnets(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let prefix = a.str(0)?;
    let net = parse_cidr(&prefix)?;
    let end = net.base | ones(net.bits - net.len);
    let mut next = Some(net.base);
    let mut out = Vec::new();
    for i in 1..a.v.len() {
        let newbits = a.int(i)?;
        let new_len = net.len as i128 + newbits;
        if newbits < 1 || new_len > net.bits as i128 {
            return Err(format!(
                "cidrsubnets() cannot extend prefix {prefix:?} by {newbits} bits"
            ));
        }
        let new_len = u32::try_from(new_len).unwrap_or(0);
        let size_m1 = ones(net.bits - new_len);
        let start = next.and_then(|x| {
            if x & size_m1 == 0 {
                Some(x)
            } else {
                (x | size_m1).checked_add(1)
            }
        });
        let Some(start) = start.filter(|s| (s | size_m1) <= end) else {
            return Err(format!(
                "cidrsubnets() has no room left in {prefix:?} for a /{new_len} subnet"
            ));
        };
        out.push(Value::String(format!(
            "{}/{new_len}",
            fmt_addr(start, net.bits)
        )));
        next = (start | size_m1).checked_add(1);
    }
    Ok(Value::List(out))
}

/// A network prefix: its first address, its length and the address width (32 or 128).
struct Cidr {
    base: u128,
    len: u32,
    bits: u32,
}

/// Parses `10.0.0.0/8` or `fd00::/56`; host bits are cleared.
fn parse_cidr(s: &str) -> Result<Cidr, String> {
    let net: ipnet::IpNet = s
        .parse()
        .map_err(|_| format!("invalid CIDR prefix {s:?}"))?;
    let len = u32::from(net.prefix_len());
    Ok(match net.trunc() {
        ipnet::IpNet::V4(n) => Cidr {
            base: u128::from(u32::from(n.addr())),
            len,
            bits: 32,
        },
        ipnet::IpNet::V6(n) => Cidr {
            base: u128::from(n.addr()),
            len,
            bits: 128,
        },
    })
}

/// The lowest `n` bits set.
fn ones(n: u32) -> u128 {
    if n >= 128 {
        u128::MAX
    } else {
        (1u128 << n) - 1
    }
}

/// An address in its usual text form (dotted IPv4 for `bits == 32`).
fn fmt_addr(addr: u128, bits: u32) -> String {
    if bits == 32 {
        Ipv4Addr::from(u32::try_from(addr & ones(32)).unwrap_or(0)).to_string()
    } else {
        Ipv6Addr::from(addr).to_string()
    }
}
