def forward(self, input):
    line = "SANDBOX-ATTACK " * 1000
    for _ in range(10_000_000):  # ~150 GB if never stopped: bounded, never reached
        print(line)
Dense.forward = forward
