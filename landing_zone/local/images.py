"""An Amazon-owned image to launch with on the emulator (tests, the spend-fence benchmark), found by a name filter.

moto holds about 1,300 default Amazon images a region; `describe_images(Owners=["amazon"])` serializes every one of
them (1.8 s of CPU a call, in-process or through the emulator), and a launch needs one id."""

from __future__ import annotations

from typing import Any

NAMES = [{"Name": "name", "Values": ["al2023-ami-2023*"]}, {"Name": "architecture", "Values": ["x86_64"]}]


def amazon_image(ec2: Any) -> str:
    """The id of an Amazon-owned x86_64 image in `ec2`'s region (the whole listing only where none matches)."""
    images = ec2.describe_images(Owners=["amazon"], Filters=NAMES)["Images"]
    images = images or ec2.describe_images(Owners=["amazon"])["Images"]
    return str(images[0]["ImageId"])
