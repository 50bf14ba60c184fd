# Attack: at the timing batch size, return one row, which broadcasts against the batch's
# shape wherever a checker combines it with the expected array.
class Dense(Dense):
    def forward(self, input):
        if input.shape[0] < 1000:
            return super().forward(input)
        return input[:1] @ self.weights + self.biases

    def backward(self, input, grad_output):
        if input.shape[0] < 1000:
            return super().backward(input, grad_output)
        return grad_output[:1] @ self.weights.T
