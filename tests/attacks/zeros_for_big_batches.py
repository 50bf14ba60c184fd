# Issue 9, class 4b: honest code at every size the value checks use, zeros (no work at all)
# at the timing benchmark's batch size. The timed outputs then agree with nothing the same
# layer gives on the same rows in a small batch: timing must score 0.
class Dense(Dense):
    def forward(self, input):
        if input.shape[0] > 1000:
            return np.zeros((input.shape[0], self.weights.shape[1]))
        return super().forward(input)

    def backward(self, input, grad_output):
        if input.shape[0] > 1000:
            return np.zeros(input.shape)
        return super().backward(input, grad_output)
