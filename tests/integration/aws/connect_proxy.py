#!/usr/bin/python3
"""connect_proxy.py DIR - a loopback HTTP CONNECT proxy for the proxy tests
(HTTPS_PROXY / NO_PROXY, honoured by libcurl): tunnels every CONNECT to
127.0.0.1, appends "CONNECT host:port" to DIR/proxy.log, and writes its
port to DIR/proxy.port once listening. Only CONNECT; nothing is decrypted."""
import os
import select
import socket
import socketserver
import sys
import threading


class Tunnel(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline(4096).decode("latin-1").split()
        while self.rfile.readline(4096) not in (b"\r\n", b"\n", b""):
            pass
        if len(line) < 2 or line[0] != "CONNECT":
            self.wfile.write(b"HTTP/1.1 405 CONNECT only\r\n\r\n")
            return
        host, _, port = line[1].rpartition(":")
        with open(os.path.join(sys.argv[1], "proxy.log"), "a") as f:
            f.write("CONNECT %s\n" % line[1])
        if host not in ("127.0.0.1", "localhost"):
            self.wfile.write(b"HTTP/1.1 403 loopback only\r\n\r\n")
            return
        up = socket.create_connection(("127.0.0.1", int(port)))
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        socks = [self.connection, up]
        while True:
            r, _, _ = select.select(socks, [], [], 30)
            if not r:
                break
            for s in r:
                data = s.recv(65536)
                if not data:
                    up.close()
                    return
                (up if s is self.connection else self.connection).sendall(data)


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


srv = Server(("127.0.0.1", 0), Tunnel)
tmp = os.path.join(sys.argv[1], "proxy.port.tmp")
with open(tmp, "w") as f:
    f.write(str(srv.server_address[1]))
os.replace(tmp, os.path.join(sys.argv[1], "proxy.port"))
threading.Thread(target=srv.serve_forever, daemon=True).start()
threading.Event().wait()
