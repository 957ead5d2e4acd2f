# terrane-difference: integers beyond 2^53 lose precision in 64-bit floats; Terraform keeps them exact
output "exact" { value = 9007199254740993 }
output "int64_max" { value = 9223372036854775807 }
output "product" { value = 99999999999 * 99999999999 }
output "tostring" { value = tostring(12345678901234567890) }
output "decoded" { value = jsondecode("12345678901234567890") }
