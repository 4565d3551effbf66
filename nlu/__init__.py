"""omnirelay NLU: Rasa-format training data, a fast built-in model, and a Rasa HTTP client.

This package is self-contained (it imports nothing else of omnirelay) and does no training or file
IO at import time.
"""

from nlu.errors import DataError, ModelLoadError, NluError, NluUnavailable
from nlu.extractors import ExtractorConfig
from nlu.hot_reload import HotReloadingModel
from nlu.model import (
    DEFAULT_MODEL_PATH,
    BuiltinModel,
    bundled_data_path,
    bundled_test_path,
    load_model,
    train_model,
)
from nlu.rasa_client import RasaHttpModel
from nlu.review import ReviewLog
from nlu.training_data import TrainingData, load_data
from nlu.types import FALLBACK_INTENT, Entity, IntentScore, NluModel, ParseResult

__all__ = [
    "DEFAULT_MODEL_PATH",
    "FALLBACK_INTENT",
    "BuiltinModel",
    "DataError",
    "Entity",
    "ExtractorConfig",
    "HotReloadingModel",
    "IntentScore",
    "ModelLoadError",
    "NluError",
    "NluModel",
    "NluUnavailable",
    "ParseResult",
    "RasaHttpModel",
    "ReviewLog",
    "TrainingData",
    "bundled_data_path",
    "bundled_test_path",
    "load_data",
    "load_model",
    "train_model",
]
