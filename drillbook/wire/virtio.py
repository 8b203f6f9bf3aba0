"""``struct virtio_net_hdr`` (linux/virtio_net.h): the 10 bytes before each packet on a TUN fd
opened with ``IFF_VNET_HDR``.

packetdrill opens its TUN device with ``IFF_VNET_HDR`` and, for an injected TCP packet with a
``mss`` (GSO) request, sets ``gso_type`` to TCPV4/TCPV6 and ``gso_size`` to the MSS; every
other write carries an all-zero header. Reads from such a fd also start with the header.
The fields are in the host's byte order (legacy virtio; TUN's default without TUNSETVNETLE).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from drillbook.wire.errors import WireError

VIRTIO_NET_HDR_F_NEEDS_CSUM = 1
VIRTIO_NET_HDR_F_DATA_VALID = 2
VIRTIO_NET_HDR_F_RSC_INFO = 4

VIRTIO_NET_HDR_GSO_NONE = 0
VIRTIO_NET_HDR_GSO_TCPV4 = 1
VIRTIO_NET_HDR_GSO_UDP = 3
VIRTIO_NET_HDR_GSO_TCPV6 = 4
VIRTIO_NET_HDR_GSO_UDP_L4 = 5
VIRTIO_NET_HDR_GSO_ECN = 0x80  # flag: the TCP segments carry ECN (CWR on the first)

_VNET = struct.Struct("=BBHHHH")
VIRTIO_NET_HDR_LEN = _VNET.size  # 10


@dataclass(frozen=True, slots=True)
class VirtioNetHdr:
    """A virtio-net header; all zeros means "a plain packet, checksum already done"."""

    flags: int = 0
    gso_type: int = VIRTIO_NET_HDR_GSO_NONE
    hdr_len: int = 0
    gso_size: int = 0
    csum_start: int = 0
    csum_offset: int = 0


NO_VNET_HDR = VirtioNetHdr()
_ZERO = bytes(VIRTIO_NET_HDR_LEN)


def pack_virtio_net_hdr(header: VirtioNetHdr = NO_VNET_HDR) -> bytes:
    """The 10 bytes of ``header``."""
    if header == NO_VNET_HDR:
        return _ZERO
    try:
        return _VNET.pack(
            header.flags,
            header.gso_type,
            header.hdr_len,
            header.gso_size,
            header.csum_start,
            header.csum_offset,
        )
    except struct.error as exc:
        raise WireError(f"cannot encode {header!r}: {exc}") from None


def unpack_virtio_net_hdr(data: bytes) -> tuple[VirtioNetHdr, bytes]:
    """Split a TUN read into its virtio-net header and the IP packet after it."""
    if len(data) < VIRTIO_NET_HDR_LEN:
        raise WireError(
            f"truncated virtio_net_hdr: need {VIRTIO_NET_HDR_LEN} bytes, have {len(data)}"
        )
    fields = _VNET.unpack_from(data)
    return VirtioNetHdr(*fields), data[VIRTIO_NET_HDR_LEN:]


def gso_header(mss: int, ipv6: bool) -> VirtioNetHdr:
    """The header packetdrill writes for an injected TCP packet to be segmented at ``mss``."""
    gso_type = VIRTIO_NET_HDR_GSO_TCPV6 if ipv6 else VIRTIO_NET_HDR_GSO_TCPV4
    return VirtioNetHdr(gso_type=gso_type, gso_size=mss)
