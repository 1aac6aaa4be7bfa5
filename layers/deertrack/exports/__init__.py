"""The export API's logic: request schemas and every rule they must meet, job submission with
idempotency, status views, cancellation, and S3-dropped requests. Handlers in functions/ are thin
wrappers around these modules.

- schemas: the pydantic request bodies and their cross-field rules
- body: a JSON body → a model, or every problem at once
- validation: rules needing PostgreSQL (unknown ids, nothing selected); connections: reused ones
- selection: which detections a ZIP / Camtrap DP export holds, as SQL (shared with the worker)
- idempotency, submission, intake: request → Redis status → SQS message, nothing half-made
- responses, status, cancellation: what clients see and DELETE
- s3_requests: export requests dropped as JSON files in the requests bucket
- problems: the error body shape
"""

#: The public modules of this package (import them by name; nothing is loaded here).
__all__ = [
    "body", "cancellation", "failures", "idempotency", "intake", "responses", "s3_requests", "schemas",
    "selection", "status", "submission", "validation"
]
