// Text files bundled into the program (`with { type: "text" }`): their content as a string.

declare module "*.yaml" {
  const text: string;
  export default text;
}
