module "outer" {
  source = "./outer"
  name   = "x"
}
output "deep" { value = module.outer.deep }
