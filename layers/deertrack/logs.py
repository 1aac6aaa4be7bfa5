"""Structured JSON logging (aws-lambda-powertools Logger), one logger for the whole service."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger

logger = Logger(service="deertrack", level=os.environ.get("LOG_LEVEL", "INFO"))
