"""The learned triage classifier: features, the shipped linear model, training and its evaluation."""
