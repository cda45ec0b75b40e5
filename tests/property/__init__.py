"""Property-based tests (Hypothesis) of every parser that takes user input, and of what an
accepted request becomes: a stored message that ends terminal or stays armed, on both backends.
"""
