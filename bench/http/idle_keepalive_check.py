#!/usr/bin/env python3
"""Flex agents each hold a keep-alive connection. Opens N connections, makes one request on each
and leaves them idle, then times one request on a new connection.
   idle_keepalive_check.py PORT [N=16]   prints: idle_connections=N next_request_s=..."""
import socket
import sys
import time

port = int(sys.argv[1])
n = int(sys.argv[2]) if len(sys.argv) > 2 else 16
req = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
idle = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(req)
    s.recv(4096)
    idle.append(s)
t = time.time()
s = socket.create_connection(("127.0.0.1", port), timeout=30)
s.sendall(req)
s.recv(4096)
print("idle_connections=%d next_request_s=%.3f" % (n, time.time() - t))
