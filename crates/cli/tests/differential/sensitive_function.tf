locals {
  s = sensitive("hidden")
}
output "ns" { value = nonsensitive(local.s) }
output "len" { value = length(nonsensitive(local.s)) }
