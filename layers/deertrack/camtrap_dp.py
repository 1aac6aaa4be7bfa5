"""Camtrap DP 1.0.2 as deertrack speaks it: the tables and their fields, and the vocabulary that maps a
deertrack class to a Camtrap DP sex and life stage and back. The export (gpu_batch/camtrap_dp.py) writes
with it and the import (deertrack/camtrap_import.py) reads with it."""

from __future__ import annotations

from typing import Final

VERSION: Final = "1.0.2"
#: The versions the import has been checked against.
SUPPORTED_VERSIONS: Final = ("1.0", "1.0.1", "1.0.2")
PROFILE_URL: Final = f"https://raw.githubusercontent.com/tdwg/camtrap-dp/{VERSION}/camtrap-dp-profile.json"
SCHEMA_URL: Final = "https://raw.githubusercontent.com/tdwg/camtrap-dp/{version}/{table}-table-schema.json"

DEPLOYMENT_FIELDS: Final = [
    "deploymentID", "locationID", "locationName", "latitude", "longitude", "coordinateUncertainty",
    "deploymentStart", "deploymentEnd", "setupBy", "cameraID", "cameraModel", "cameraDelay", "cameraHeight",
    "cameraDepth", "cameraTilt", "cameraHeading", "detectionDistance", "timestampIssues", "baitUse", "featureType",
    "habitat", "deploymentGroups", "deploymentTags", "deploymentComments",
]
MEDIA_FIELDS: Final = [
    "mediaID", "deploymentID", "captureMethod", "timestamp", "filePath", "filePublic", "fileName", "fileMediatype",
    "exifData", "favorite", "mediaComments",
]
#: The observation's bounding box, as fractions of the image (deertrack.bbox converts).
BBOX_FIELDS: Final = ("bboxX", "bboxY", "bboxWidth", "bboxHeight")
OBSERVATION_FIELDS: Final = [
    "observationID", "deploymentID", "mediaID", "eventID", "eventStart", "eventEnd", "observationLevel",
    "observationType", "cameraSetupType", "scientificName", "count", "lifeStage", "sex", "behavior",
    "individualID", "individualPositionRadius", "individualPositionAngle", "individualSpeed", *BBOX_FIELDS,
    "classificationMethod", "classifiedBy", "classificationTimestamp",
    "classificationProbability", "observationTags", "observationComments",
]
#: Resource name -> its fields, in the order the package lists them.
TABLES: Final = {"deployments": DEPLOYMENT_FIELDS, "media": MEDIA_FIELDS, "observations": OBSERVATION_FIELDS}

#: deertrack class -> Camtrap DP sex / life stage (a class not named has neither).
SEX: Final = {"buck": "male", "doe": "female"}
LIFE_STAGE: Final = {"buck": "adult", "doe": "adult", "fawn": "juvenile"}
#: Camtrap DP sex -> deertrack class (the inverse of SEX).
CLASS_FROM_SEX: Final = {sex: cls for cls, sex in SEX.items()}

MEDIA_TYPES: Final = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".tif": "image/tiff",
                      ".tiff": "image/tiff", ".mp4": "video/mp4", ".avi": "video/x-msvideo"}


def classification(sex: str, life_stage: str) -> str:
    """The deertrack class of an observation: from its sex, else a juvenile is a fawn, else unknown."""
    if sex in CLASS_FROM_SEX:
        return CLASS_FROM_SEX[sex]
    return "fawn" if life_stage == LIFE_STAGE["fawn"] else "unknown"


def fraction(value: float) -> str:
    """A fraction as Camtrap DP text: up to 5 places, no trailing zeros."""
    return f"{value:.5f}".rstrip("0").rstrip(".") if value else "0"
