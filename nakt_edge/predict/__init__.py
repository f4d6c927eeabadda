"""Running a trained student on new images, DICOM cine loops and videos (``nakt predict``)."""

from nakt_edge.predict.run import PredictResult, predict

__all__ = ["PredictResult", "predict"]
