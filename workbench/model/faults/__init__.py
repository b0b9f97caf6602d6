"""The fault plan, applied on the clock: crashes, partitions, slow links and disks, lost data
centres, operator actions, random failures.
"""
