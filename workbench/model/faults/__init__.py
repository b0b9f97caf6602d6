"""The fault plan, applied on the clock: crashes, partitions, slow links and disks, lost data
centres, operator actions, random failures.

May import: every model folder but ``assembly``; ``scenario`` and below.
"""
