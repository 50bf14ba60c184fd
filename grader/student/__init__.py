"""The student side: the released bundle, `grade check`, the notebook's `check()`."""
