# timestamp(), uuid() and bcrypt() are known after apply; their shapes are compared.
resource "terraform_data" "t" {
  input = [length(timestamp()), length(uuid()), substr(bcrypt("secret", 5), 0, 7), length(bcrypt("secret"))]
}
output "shapes" { value = terraform_data.t.output }
