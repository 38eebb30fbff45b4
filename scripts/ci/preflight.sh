#!/usr/bin/env bash
# Is this repository set up to deploy? Run by the deploy workflow's first job (`make
# deploy-preflight`) so a fork without AWS gets a green run and a notice, and a half-done setup
# gets an error that says what is missing, instead of an opaque OIDC failure later.
#
# Env:  AWS_REGION, AWS_STAGING_ROLE_ARN, AWS_PRODUCTION_ROLE_ARN  (repository variables)
#       IMAGE_INPUT  the workflow_dispatch `image` input (optional: a sha256 digest)
# Out:  `configured=true|false` to $GITHUB_OUTPUT when set; exit 1 on a bad or partial setup.
set -euo pipefail

readonly SETUP_DOC="docs/pipeline.md#one-time-setup"
readonly VARIABLES=(AWS_REGION AWS_STAGING_ROLE_ARN AWS_PRODUCTION_ROLE_ARN)
readonly REGION_RE='^[a-z]{2}(-gov)?-[a-z]+-[0-9]$'
readonly ROLE_RE='^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$'
readonly DIGEST_RE='^sha256:[0-9a-f]{64}$'

output() {
  if [[ -n ${GITHUB_OUTPUT:-} ]]; then echo "configured=$1" >>"$GITHUB_OUTPUT"; fi
  echo "configured=$1"
}
error() { echo "::error title=Deploy setup::$*"; }

set_count=0
for name in "${VARIABLES[@]}"; do
  [[ -n ${!name:-} ]] && set_count=$((set_count + 1))
done

if ((set_count == 0)); then
  echo "::notice title=Deploys are off::Set the repository variables ${VARIABLES[*]} to deploy ($SETUP_DOC)."
  output false
  exit 0
fi

problems=0
for name in "${VARIABLES[@]}"; do
  if [[ -z ${!name:-} ]]; then
    error "repository variable $name is not set ($SETUP_DOC)"
    problems=$((problems + 1))
  fi
done
if [[ -n ${AWS_REGION:-} && ! $AWS_REGION =~ $REGION_RE ]]; then
  error "AWS_REGION '$AWS_REGION' is not a region name such as eu-west-1"
  problems=$((problems + 1))
fi
for name in AWS_STAGING_ROLE_ARN AWS_PRODUCTION_ROLE_ARN; do
  value=${!name:-}
  if [[ -n $value && ! $value =~ $ROLE_RE ]]; then
    error "$name is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)"
    problems=$((problems + 1))
  fi
done
if [[ -n ${IMAGE_INPUT:-} && ! $IMAGE_INPUT =~ $DIGEST_RE ]]; then
  error "the image input must be a digest, sha256: and 64 hex characters"
  problems=$((problems + 1))
fi

if ((problems > 0)); then
  output false
  exit 1
fi
echo "deploy setup: region $AWS_REGION, staging and production roles set"
output true
