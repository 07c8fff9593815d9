"""`python -m train …`, and a file spark-submit can run: `spark-submit …/train/__main__.py predict --engine spark …`."""

from train.cli import app

app(prog_name="train")
