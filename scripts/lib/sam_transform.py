"""Writes template.yaml as CloudFormation: the SAM transform applied offline, with the
`samtranslator` package the SAM CLI ships (run it with .venv-tools/bin/python).

    sam_transform.py TEMPLATE OUTPUT.json

What `sam package` would change first is stood in for: each function's local CodeUri becomes an
S3 URI. Resource Metadata passes through (checkov reads its skips there). No AWS call: managed
policies are never looked up (the template names none), the region is us-east-1 unless
AWS_DEFAULT_REGION says otherwise."""

import json
import os
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The managed-policy loader, never asked: keygate's policies are inline statements."""

    def load(self):
        return {}


def main():
    source, output = sys.argv[1], sys.argv[2]
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with open(source) as file:
        template = yaml_parse(file.read())
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function" and not str(properties.get("CodeUri", "")).startswith("s3://"):
            properties["CodeUri"] = f"s3://keygate-packages/{name}.zip"
    transformed = transform(template, {}, NoManagedPolicies(), passthrough_metadata=True)
    with open(output, "w") as file:
        json.dump(transformed, file, indent=1)


if __name__ == "__main__":
    main()
