# terrane-difference: numbers are 64-bit floats; Terraform computes with 512-bit precision and prints the shortest exact decimal
output "sum" { value = 0.1 + 0.2 }
output "third" { value = 1 / 3 }
output "sum_fn" { value = sum([0.1, 0.2, 0.3]) }
