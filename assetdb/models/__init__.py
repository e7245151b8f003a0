"""Every model assetdb runs, behind one small base (:mod:`assetdb.models.base`):
weights located inside installed packages, one device policy, one quiet offline
environment, lazy loading and one instance per (model, options) per process.

One module per model, used by ingest (``indexer/extractors``) and by query-time
code (``assetdb.spaces``, ``assetdb.sound``) alike:

- ``text``: all-MiniLM-L6-v2 sentence embeddings (numpy forward pass)
- ``imagenet``: EfficientNet-Lite3 ImageNet classifier (ai-edge-litert)
- ``concepts``: the ConSE visual embedder (classifier + sentence encoder)
- ``clip``: open_clip image/text embedders
- ``objects``: COCO detectors (SSD-MobileNet-v2 via OpenCV DNN; torchvision)
- ``ocr``: RapidOCR
- ``faces``: dlib detection, alignment and 128-d identity embedding
- ``whisper``: faster-whisper speech to text
- ``vad``: Silero voice activity
- ``sound_features``: the audio extractor's features (MFCC, spectral shape,
  loudness, speech share), shared with sounds-like queries

Importing this package (or any of its modules) imports no model library: they are
imported when a model loads.
"""
