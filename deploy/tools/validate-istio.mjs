// Schema check of Istio resources, which kubernetes-validate has no schema
// for. Reads a JSON array of Kubernetes objects on stdin (validate_deploy.py
// converts the YAML) and validates each Istio one with the validator that
// @kubernetes-models/istio compiled from Istio's own CRD OpenAPI schemas:
// types, enums, required fields, patterns and CEL-free constraints. Like the
// API server's structural schemas, it does not reject unknown fields; the
// Python side checks field names it knows. Exit 1 on any error.
import { readFileSync } from "node:fs";
import { DestinationRule } from "@kubernetes-models/istio/networking.istio.io/v1/DestinationRule";
import { VirtualService } from "@kubernetes-models/istio/networking.istio.io/v1/VirtualService";

const MODELS = {
  "networking.istio.io/v1 DestinationRule": DestinationRule,
  "networking.istio.io/v1 VirtualService": VirtualService,
};

const docs = JSON.parse(readFileSync(0, "utf8"));
let failed = 0;
for (const { file, object } of docs) {
  const key = `${object.apiVersion} ${object.kind}`;
  const Model = MODELS[key];
  const name = `${file}: ${object.kind}/${object.metadata?.name}`;
  if (!Model) {
    console.log(`ERROR ${name}: no Istio schema for ${key}`);
    failed++;
    continue;
  }
  try {
    new Model(object).validate();
    console.log(`INFO ${name} passed against the Istio CRD schema`);
  } catch (e) {
    console.log(`ERROR ${name}: ${e.message}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
