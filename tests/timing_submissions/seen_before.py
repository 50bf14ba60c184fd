# Attack: remember every input array by identity and, handed one again (a benchmark that
# repeats its data), return the plain array computed the first time, without computing.
_SEEN = {}


class Dense(Dense):
    def forward(self, input):
        key = ("forward", id(input))
        if key not in _SEEN:
            _SEEN[key] = (input, super().forward(input))
        return _SEEN[key][1]

    def backward(self, input, grad_output):
        key = ("backward", id(input), id(grad_output))
        if key not in _SEEN:
            _SEEN[key] = (input, grad_output, super().backward(input, grad_output))
        return _SEEN[key][2]
