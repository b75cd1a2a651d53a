"""The audit archive: every history line the ledger writes, copied from its DynamoDB stream to S3.

lines.py    stream records -> the history lines each one wrote (old and new images diffed)
writer.py   lines -> gzip JSON Lines objects, partitioned by date and hour, idempotent keys
"""

from replimend.archive.lines import ArchivedLine, StreamRecordError, lines_of_record
from replimend.archive.writer import ArchiveBatch, ArchiveWriter

__all__ = ["ArchiveBatch", "ArchiveWriter", "ArchivedLine", "StreamRecordError", "lines_of_record"]
