"""The audit archive: every history line the ledger writes, copied from its DynamoDB stream to S3
as gzip JSON Lines, partitioned by date and hour (which lines a stream record wrote is the ledger's
knowledge: ``replimend.ledger.stream``)."""

from replimend.archive.writer import ArchiveBatch, ArchiveWriter, line_json

__all__ = ["ArchiveBatch", "ArchiveWriter", "line_json"]
