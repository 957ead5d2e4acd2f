output "mixed" { value = true ? 1 : "2" }
output "string_cond" { value = "true" ? "yes" : "no" }
