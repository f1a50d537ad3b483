"""The vault: the S3 Object Lock bucket (blobs, manifests, audit log) and the work bucket beside it."""
