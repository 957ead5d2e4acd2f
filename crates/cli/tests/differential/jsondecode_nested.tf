locals {
  doc = jsondecode("{\"a\": {\"b\": [1, 2, {\"c\": true}]}, \"d\": null}")
}
output "b" { value = local.doc.a.b }
output "c" { value = local.doc.a.b[2].c }
output "keys" { value = keys(local.doc) }
