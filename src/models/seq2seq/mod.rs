//! Encoder–decoder generation for abstractive summaries (Hugging Face Optimum ONNX layout).
