import socket
for attempt in range(3):
    try:
        s = socket.create_connection(("127.0.0.1", __PORT__), timeout=1)
        s.sendall(b"SANDBOX-ATTACK-__TOKEN__")
        s.close()
        break
    except OSError:
        pass
