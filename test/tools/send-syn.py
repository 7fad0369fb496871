#!/usr/bin/env python3
"""Sends one TCP SYN with a random initial sequence number: send-syn.py SRC DST SPORT DPORT (run as root).

For tests that need a SYN on a tuple a live connection already uses, which no socket API can send."""
import random
import socket
import struct
import sys


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


src, dst, sport, dport = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
header = struct.pack("!HHIIBBHHH", sport, dport, random.getrandbits(32), 0, 5 << 4, 0x02, 65535, 0, 0)
pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(header))
header = header[:16] + struct.pack("!H", checksum(pseudo + header)) + header[18:]
with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP) as raw:
    raw.sendto(header, (dst, 0))
