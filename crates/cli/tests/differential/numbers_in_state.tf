# Numbers stored in state and read back keep every digit.
resource "terraform_data" "n" {
  input = {
    third = 1 / 3
    big   = 12345678901234567890
    sum   = 0.1 + 0.2
    root  = pow(2, 0.5)
  }
}
output "stored" { value = terraform_data.n.output }
output "again" { value = terraform_data.n.output.third * 3 }
