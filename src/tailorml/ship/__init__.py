"""Shipping a trained model: ONNX export (``tailorml.ship.onnx``)."""
