import ctypes
def forward(self, input):
    ctypes.string_at(0)
Dense.forward = forward
