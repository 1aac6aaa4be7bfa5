"""The deertrack Chalice app: HTTP routes and the SQS / S3 / schedule handlers, all thin.

Each area registers a blueprint from chalicelib/; the logic lives in the deertrack package.
"""

from __future__ import annotations

from chalice import Chalice
from chalicelib.health import health_routes

app = Chalice(app_name="deertrack")
app.api.cors = False

app.register_blueprint(health_routes)
