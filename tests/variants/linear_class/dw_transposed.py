import numpy as np


class Linear:
    def __init__(self, in_features, out_features):
        self.W = np.zeros((out_features, in_features))
        self.b = np.zeros(out_features)

    def forward(self, A):
        self.A = A
        self.N = A.shape[0]
        self.Ones = np.ones((self.N, 1))
        return A @ self.W.T + self.Ones @ self.b.reshape(1, -1)

    def backward(self, dLdZ):
        dLdA = dLdZ @ self.W
        self.dW = self.A.T @ dLdZ
        self.db = (dLdZ.T @ self.Ones).ravel()
        return dLdA
