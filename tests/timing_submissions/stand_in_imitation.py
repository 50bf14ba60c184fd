# Attack: at the timing batch size, return an object that imitates an array (shape, dtype,
# ndim, `__array__`, indexing, sums) without being one: the rows read are computed on demand,
# `__array__` hands over zeros, nothing is computed over the batch.
class LooksLikeAnArray:
    ndim = 2
    dtype = np.dtype(np.float64)

    def __init__(self, a, m, c):
        self.parts, self.shape = (a, m, c), (a.shape[0], m.shape[1])
        self.size = self.shape[0] * self.shape[1]

    def __getitem__(self, index):
        a, m, c = self.parts
        return np.asarray(a[index] @ m + c)

    def __len__(self):
        return self.shape[0]

    def sum(self, *args, **kwargs):
        a, m, c = self.parts
        return float(a.sum(axis=0) @ m.sum(axis=1) + len(a) * np.sum(c))

    def __abs__(self):
        return self

    def __array__(self, dtype=None, copy=None):
        return np.zeros(self.shape, dtype or self.dtype)


class Dense(Dense):
    def forward(self, input):
        if input.shape[0] < 1000:
            return super().forward(input)
        return LooksLikeAnArray(input, self.weights.copy(), self.biases.copy())

    def backward(self, input, grad_output):
        if input.shape[0] < 1000:
            return super().backward(input, grad_output)
        grad_input = LooksLikeAnArray(grad_output, self.weights.T.copy(), 0.0)
        self.weights = self.weights - self.learning_rate * input.T @ grad_output
        self.biases = self.biases - self.learning_rate * grad_output.sum(axis=0)
        return grad_input
